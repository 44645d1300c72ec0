"""∞-Diff for infd (Bond-Taylor & Willcocks): resolution-agnostic diffusion on subsampled coordinates."""
