"""INFD (Chen et al., CVPR 2024) as an infd pipeline: image neural field autoencoder + latent diffusion."""
