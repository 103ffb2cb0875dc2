"""KMS: keys in saved state (moto's key objects cannot be pickled as they are)."""
