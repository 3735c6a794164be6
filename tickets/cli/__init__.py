"""The command line (python script.py): argparse as the parser, one command per store call."""
