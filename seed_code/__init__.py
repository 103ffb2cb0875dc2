"""Seed archives: the zip files that the product seeds its two repositories from."""

from seed_code.archive import SEED_FOLDERS, SeedArchive, build_seed_archives, write_deterministic_zip

__all__ = ["SEED_FOLDERS", "SeedArchive", "build_seed_archives", "write_deterministic_zip"]
