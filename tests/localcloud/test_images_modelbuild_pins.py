"""The ModelBuild seed's image pins (requirements-image.txt) and the local cloud's table agree, so the
step scripts' tests and the pipeline's jobs run with the same libraries as the image the pipeline names."""

from __future__ import annotations

import re

from localcloud import REPO_ROOT
from localcloud.services.sagemaker.images import table

MODELBUILD = REPO_ROOT / "modelbuild"
TEST_ONLY = {"pytest"}


def _requirements() -> dict[str, str]:
    lines = (MODELBUILD / "requirements-image.txt").read_text().splitlines()
    wanted = [line.split("#", 1)[0].strip() for line in lines]
    return {re.split(r"[<>=!~ ]", line, maxsplit=1)[0].lower(): line for line in wanted if line}


def test_the_pipeline_names_an_image_of_the_table():
    text = (MODELBUILD / "pipelines" / "images.py").read_text()
    version = re.search(r'^SKLEARN_FRAMEWORK_VERSION = "([^"]+)"', text, re.M).group(1)
    assert version in table.IMAGES, f"the seed names scikit-learn {version}, which the local cloud does not run"
    assert version == "1.9-0", "requirements-image.txt is written for 1.9-0: change the two together"


def test_requirements_image_pins_the_tables_versions_of_the_seed_image():
    image = table.IMAGES["1.9-0"]
    pinned = _requirements()
    for name, line in pinned.items():
        if name in TEST_ONLY:
            continue
        assert image.pin(name) == line, f"requirements-image.txt says {line!r}, the table {image.pin(name)!r}"
    for library in ("scikit-learn", "numpy", "scipy", "pandas"):
        assert library in pinned, f"requirements-image.txt must pin {library} (the table has {image.pin(library)})"


def test_requirements_image_names_the_images_python():
    header = (MODELBUILD / "requirements-image.txt").read_text()
    assert f"Python {table.IMAGES['1.9-0'].python} in the image" in header
