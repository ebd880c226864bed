#!/usr/bin/env python3
"""Entry point: `python compile.py --help`. All logic lives in the streammetrics package."""

from streammetrics.cli import main

if __name__ == "__main__":
    main(prog_name="compile.py")
