import subprocess
import sys


def test_import_does_not_load_torch():
    code = ("import s3kit, sys; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_help_and_version():
    out = subprocess.run([sys.executable, "-m", "s3kit.cli", "--version"], check=True,
                         capture_output=True, text=True).stdout
    import s3kit

    assert out.strip() == s3kit.__version__
    res = subprocess.run([sys.executable, "-m", "s3kit.cli", "data", "nope"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "invalid choice" in res.stderr
