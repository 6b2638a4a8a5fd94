"""User-facing applications (reconstruct, demo, doctor): thin uses of the model, renderer and io."""
