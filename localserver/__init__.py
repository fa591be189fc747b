"""A local stand-in for the SmartyzeDetect API server: its Thrift and REST contracts, a simpler detector.

Run it from the repository root with `python -m localserver --help`.
"""
