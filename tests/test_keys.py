"""Redis key names: realtime/keys.py and csrc/common/keys.h say the same,
and nothing else in the code spells one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from django.test import SimpleTestCase

from realtime import keys

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "csrc" / "common" / "keys.h"
NAME_PREFIXES = ("KEY_", "FIELD_", "GROUP_")
# Where Python code writes Redis keys (the transport, the platform, accounts).
PY_DIRS = ("realtime", "lobby", "accounts")


def c_names() -> dict[str, str]:
    """keys.h's #define PH_<NAME> "<value>" as {NAME: value}."""
    text = HEADER.read_text()
    return dict(re.findall(r'^#define PH_(\w+) "([^"]*)"', text, re.M))


def py_names() -> dict[str, str]:
    return {n: v for n, v in vars(keys).items() if n.startswith(NAME_PREFIXES)}


def strip_c_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


class KeysAgreeTests(SimpleTestCase):
    def test_header_and_module_name_the_same_keys(self):
        self.assertEqual(c_names(), py_names())

    def test_builders_use_the_names(self):
        self.assertEqual(keys.session_key("ABCD"), "partyhub:session:ABCD")
        self.assertEqual(keys.private_key("ABCD", 7), "partyhub:private:ABCD:7")
        self.assertEqual(keys.player_group_name("ABCD", 7), "player_ABCD_7")
        for code, pid in (("ABCD", 7), ("Z9", 123)):
            for key in keys.of_session(code) + keys.of_player(code, pid):
                self.assertTrue(key.startswith(tuple(py_names().values())), key)

    def test_no_c_file_spells_a_key(self):
        # A key prefix opening a string literal, or a group name's prefix
        # opening a format ("game_%s").
        spelled = [f'"{v}' for n, v in c_names().items() if n.startswith("KEY_")]
        spelled += [f'"{v}%' for n, v in c_names().items() if n.startswith("GROUP_")]
        for path in sorted((ROOT / "csrc").rglob("*.[ch]")):
            if path == HEADER:
                continue
            code = strip_c_comments(path.read_text())
            for literal in spelled:
                with self.subTest(path=path.name, literal=literal):
                    self.assertFalse(literal in code, f"{path.name} spells {literal}")

    def test_no_python_module_spells_a_key(self):
        values = tuple(v for n, v in py_names().items() if n.startswith("KEY_"))
        for folder in PY_DIRS:
            for path in sorted((ROOT / folder).rglob("*.py")):
                if path.name == "keys.py" or "tests" in path.parts or "migrations" in path.parts:
                    continue
                tree = ast.parse(path.read_text())
                docstrings = {
                    id(node.value)
                    for node in ast.walk(tree)
                    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                }
                for node in ast.walk(tree):
                    if (
                        isinstance(node, ast.Constant)
                        and isinstance(node.value, str)
                        and id(node) not in docstrings
                    ):
                        with self.subTest(path=str(path.relative_to(ROOT)), text=node.value):
                            self.assertFalse(node.value.startswith(values))
