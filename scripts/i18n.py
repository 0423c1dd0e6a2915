"""Translation catalogues: ``python scripts/i18n.py update`` extracts strings and updates both
catalogues; ``python scripts/i18n.py compile`` builds the .mo files the app loads.

Source strings are simplified Chinese (the product's first language); the ``en`` catalogue holds
the English translation, ``zh_Hans_CN`` is kept for completeness and stays empty (msgid is used).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
POT = TRANSLATIONS / "messages.pot"


def pybabel(*args: str) -> None:
    exe = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(exe), *args], check=True, cwd=ROOT)


def update() -> None:
    # --ignore-dirs: pybabel skips folders starting with "_" by default, which hid templates/_macros.
    pybabel("extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location", "--ignore-dirs", ".* __pycache__",
            "--sort-output", "-o", str(POT), ".")
    pybabel("update", "-i", str(POT), "-d", str(TRANSLATIONS), "--no-fuzzy-matching")


def compile_() -> None:
    pybabel("compile", "-d", str(TRANSLATIONS), "--statistics")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "compile"
    {"update": update, "compile": compile_}[command]()
