"""Package data (makes setuptools ship the files in this folder)."""
