# The two commands of the README. Both work on a fresh Debian machine with Python 3.11.
.PHONY: demo test setup

demo:
	bash tools/setup.sh
	.venv/bin/dialwise demo

test:
	bash tools/setup.sh test
	bash tools/test.sh
