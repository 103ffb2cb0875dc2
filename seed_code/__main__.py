"""`python -m seed_code [OUT_DIR]`: build the seed archives (default: dist/seed)."""

from __future__ import annotations

import sys
from pathlib import Path

from seed_code.archive import build_seed_archives


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path("dist/seed")
    for archive in build_seed_archives(Path.cwd(), out_dir).values():
        print(f"{archive.path}  {len(archive.files)} files  sha256={archive.sha256}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
