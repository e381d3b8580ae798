"""The shipped catalogues (django_liveness/locale/): complete for every string of the code, and
compiled. `make messages` updates them; these tests fail when someone adds a string and does not."""

import gettext
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "django_liveness"
LOCALES = ("fr", "de")


def need_gettext():
    if shutil.which("msgfmt") is None or shutil.which("xgettext") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("GNU gettext is not installed (CI must install it)")
        pytest.skip("GNU gettext is not installed")


def catalogue(locale):
    return PACKAGE / "locale" / locale / "LC_MESSAGES" / "django.po"


def compiled(po_file, *options):
    """The catalogue of a .po file as GNU gettext compiles it: {msgid: msgstr}."""
    with tempfile.TemporaryDirectory() as folder:
        mo_file = Path(folder) / "django.mo"
        subprocess.run(["msgfmt", *options, "-o", str(mo_file), str(po_file)], check=True)
        with open(mo_file, "rb") as file:
            return gettext.GNUTranslations(file)._catalog


def msgids(po_file):
    return {key for key in compiled(po_file, "--use-fuzzy") if key}  # "" is the header


@pytest.fixture(scope="module")
def strings_in_the_code(tmp_path_factory):
    """Every translatable string of the package, as `make messages` extracts it (in a copy)."""
    need_gettext()
    copy = tmp_path_factory.mktemp("package") / "django_liveness"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("locale", "__pycache__"))
    (copy / "locale").mkdir()  # where makemessages writes
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    django_admin = [sys.executable, "-m", "django"]
    subprocess.run(
        [*django_admin, "makemessages", "-l", "xx", "--no-location"], cwd=copy, env=env, check=True, capture_output=True
    )
    extracted = copy / "locale" / "xx" / "LC_MESSAGES" / "django.po"
    # msgfmt leaves untranslated entries out: "translate" each one into itself first (msgen), with a
    # plural rule GNU gettext can read in place of the template's placeholder.
    english = extracted.with_name("en.po")
    subprocess.run(["msgen", "-o", str(english), str(extracted)], check=True)
    header = english.read_text().replace("nplurals=INTEGER; plural=EXPRESSION;", "nplurals=2; plural=(n != 1);")
    english.write_text(header)
    return msgids(english)


@pytest.mark.parametrize("locale", LOCALES)
def test_each_catalogue_translates_every_string_of_the_code(locale, strings_in_the_code):
    assert strings_in_the_code, "no translatable string found: the extraction is broken"
    missing = strings_in_the_code - msgids(catalogue(locale))
    assert not missing, f"{locale}: run `make messages` and translate: {sorted(missing)[:10]}"


@pytest.mark.parametrize("locale", LOCALES)
def test_each_catalogue_has_no_untranslated_or_fuzzy_entry(locale):
    need_gettext()
    result = subprocess.run(
        ["msgfmt", "--statistics", "--check-format", "-o", os.devnull, str(catalogue(locale))],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr, result.stderr


@pytest.mark.parametrize("locale", LOCALES)
def test_the_compiled_catalogue_is_the_current_one(locale):
    need_gettext()
    with open(catalogue(locale).with_suffix(".mo"), "rb") as file:
        shipped = gettext.GNUTranslations(file)._catalog
    assert shipped == compiled(catalogue(locale)), "run `make messages` (compilemessages) and commit the .mo files"
