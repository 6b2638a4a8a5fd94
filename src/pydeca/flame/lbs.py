"""Linear blend skinning for FLAME as plain tensor functions (reference §2.4).

B = batch, V = vertices, J = joints (5 for FLAME), K = blend-shape coefficients. Everything is
batched and differentiable; the only Python loop runs over the J joints of the kinematic chain.
Positions are metres in the FLAME world frame (+x subject's left, +y up, +z toward the camera);
FLAME has no global translation.
"""

from __future__ import annotations

import torch

from pydeca.checks import check_shapes

__all__ = [
    "batch_rigid_transform",
    "blend_shapes",
    "lbs",
    "pose_corrective_offsets",
    "pose_features",
    "skin_vertices",
    "vertices_to_joints",
]


def blend_shapes(coeffs: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Linear blend-shape offsets ``Σ_k coeffs_k · dirs[k]``.

    The bases are component-major, (K, V, 3): contiguous, that is one dense ``(B, K) @ (K, V·3)``
    matmul (a transposed (V·3, K) view is ~5× slower for batch 1 on the CPU).

    Args:
        coeffs: (B, K) coefficients.
        dirs: (K, V, 3) blend shapes, metres per unit coefficient (FLAME's (V, 3, K) arrays
            permuted with ``.permute(2, 0, 1).contiguous()``).

    Returns:
        (B, V, 3) offsets, metres.
    """
    check_shapes(coeffs=(coeffs, "B K"), dirs=(dirs, "K V 3"))
    num_coeffs, num_verts = dirs.shape[:2]
    return (coeffs @ dirs.reshape(num_coeffs, num_verts * 3)).reshape(-1, num_verts, 3)


def vertices_to_joints(regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Regress joint locations from (shaped, unposed) vertices.

    Args:
        regressor: (J, V) dense joint regressor.
        vertices: (B, V, 3) metres.

    Returns:
        (B, J, 3) joint locations, metres.
    """
    check_shapes(regressor=(regressor, "J V"), vertices=(vertices, "B V 3"))
    return regressor @ vertices


def pose_features(rot_mats: torch.Tensor) -> torch.Tensor:
    """Pose-corrective features: ``(R_j − I)`` of every non-root joint, flattened.

    Args:
        rot_mats: (B, J, 3, 3) local joint rotations (joint 0 = root/global).

    Returns:
        (B, 9·(J − 1)) features (36 for FLAME), row-major per joint.
    """
    check_shapes(rot_mats=(rot_mats, "B J 3 3"))
    eye = torch.eye(3, device=rot_mats.device, dtype=rot_mats.dtype)
    return (rot_mats[:, 1:] - eye).flatten(1)


def pose_corrective_offsets(features: torch.Tensor, posedirs: torch.Tensor) -> torch.Tensor:
    """Pose-corrective vertex offsets ``features · posedirs``.

    Args:
        features: (B, P) from :func:`pose_features` (P = 36 for FLAME).
        posedirs: (P, V, 3) pose-corrective blend shapes, metres.

    Returns:
        (B, V, 3) offsets, metres.
    """
    return blend_shapes(features, posedirs)


def batch_rigid_transform(
    rot_mats: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor | list[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chain local joint rotations along the kinematic tree.

    Args:
        rot_mats: (B, J, 3, 3) local rotations, joint order such that ``parents[j] < j``.
        joints: (B, J, 3) rest-pose joint locations, metres.
        parents: (J,) int64 parent of each joint, −1 for the root (FLAME: [−1, 0, 1, 1, 1]).

    Returns:
        ``(posed_joints, rel_transforms)``: (B, J, 3) posed joint locations and (B, J, 4, 4)
        world transforms with the rest-pose joint location removed (``A_j = G_j − G_j·[J_j, 0]``),
        i.e. the transforms that map rest-pose vertices to posed vertices.
    """
    check_shapes(rot_mats=(rot_mats, "B J 3 3"), joints=(joints, "B J 3"))
    parent_list = [int(p) for p in parents]
    num_joints = joints.shape[1]
    # 1. joint offsets relative to the parent: (B, J, 3)
    rel_joints = joints.clone()
    rel_joints[:, 1:] = joints[:, 1:] - joints[:, parent_list[1:]]
    # 2. local 4×4 transforms [R | t; 0 1]: (B, J, 4, 4)
    top = torch.cat((rot_mats, rel_joints[..., None]), dim=-1)  # (B, J, 3, 4)
    bottom = joints.new_tensor((0.0, 0.0, 0.0, 1.0)).expand(*top.shape[:2], 1, 4)
    local = torch.cat((top, bottom), dim=-2)
    # 3. chain along the tree (J is tiny): G_j = G_parent · L_j
    chain = [local[:, 0]]
    for j in range(1, num_joints):
        chain.append(chain[parent_list[j]] @ local[:, j])
    world = torch.stack(chain, dim=1)  # (B, J, 4, 4)
    posed_joints = world[:, :, :3, 3]
    # 4. remove the rest-pose joint location: translation -= G_j[:3, :3] · J_j
    correction = (world[:, :, :3, :3] @ joints[..., None])[..., 0]  # (B, J, 3)
    rel = world.clone()
    rel[:, :, :3, 3] = world[:, :, :3, 3] - correction
    return posed_joints, rel


def skin_vertices(vertices: torch.Tensor, weights: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
    """Linear blend skinning ``v' = (Σ_j W_vj A_j) · [v, 1]``.

    Args:
        vertices: (B, V, 3) rest-pose vertices (with pose correctives), metres.
        weights: (V, J) skinning weights.
        transforms: (B, J, 4, 4) from :func:`batch_rigid_transform`.

    Returns:
        (B, V, 3) posed vertices, metres.
    """
    check_shapes(vertices=(vertices, "B V 3"), weights=(weights, "V J"), transforms=(transforms, "B J 4 4"))
    batch, num_joints = transforms.shape[:2]
    num_verts = vertices.shape[1]
    # 1. every joint's transform applied to every vertex, one batched GEMM:
    #    (B, J·3, 3) @ (B, 3, V) + (B, J·3, 1) -> (B, J·3, V)
    per_joint = torch.baddbmm(
        transforms[:, :, :3, 3].reshape(batch, num_joints * 3, 1),
        transforms[:, :, :3, :3].reshape(batch, num_joints * 3, 3),
        vertices.transpose(1, 2),
    )
    # 2. blend with the weights: Σ_j W_vj (A_j [v, 1]) = (Σ_j W_vj A_j) [v, 1] -> (B, 3, V) -> (B, V, 3)
    blended = (per_joint.view(batch, num_joints, 3, num_verts) * weights.T[:, None]).sum(dim=1)
    return blended.transpose(1, 2).contiguous()


def lbs(
    betas: torch.Tensor,
    rot_mats: torch.Tensor,
    *,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: torch.Tensor,
    j_regressor: torch.Tensor,
    parents: torch.Tensor | list[int],
    lbs_weights: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """FLAME/SMPL-style skinning: blend shapes, joints, pose correctives, rigid chain, skinning.

    Args:
        betas: (B, K) concatenated shape and expression coefficients.
        rot_mats: (B, J, 3, 3) local joint rotations (FLAME: global, neck, jaw, eye L, eye R), e.g.
            :func:`pydeca.geometry.axis_angle_to_matrix` of the axis-angle pose.
        v_template: (V, 3) mean mesh, metres.
        shapedirs: (K, V, 3) shape + expression blend shapes (component-major).
        posedirs: (9·(J − 1), V, 3) pose-corrective blend shapes (component-major).
        j_regressor: (J, V) joint regressor.
        parents: (J,) kinematic parents, −1 for the root.
        lbs_weights: (V, J) skinning weights.

    Returns:
        ``(vertices, joints)``: (B, V, 3) posed vertices and (B, J, 3) posed joints, metres.
    """
    check_shapes(
        betas=(betas, "B K"),
        rot_mats=(rot_mats, "B J 3 3"),
        v_template=(v_template, "V 3"),
        shapedirs=(shapedirs, "K V 3"),
        lbs_weights=(lbs_weights, "V J"),
    )
    # 1. shape + expression: (B, V, 3)
    v_shaped = v_template + blend_shapes(betas, shapedirs)
    # 2. joints from the shaped mesh: (J, V) @ (B, V, 3) -> (B, J, 3)
    joints = vertices_to_joints(j_regressor, v_shaped)
    # 3. pose correctives: (B, 36) @ (36, V*3) -> (B, V, 3)
    v_posed = v_shaped + pose_corrective_offsets(pose_features(rot_mats), posedirs)
    # 4. rigid chain: (B, J, 4, 4)
    posed_joints, transforms = batch_rigid_transform(rot_mats, joints, parents)
    # 5. skinning: (B, V, 3)
    return skin_vertices(v_posed, lbs_weights, transforms), posed_joints
