import os

# jsii starts Node 20, which prints an end-of-life banner on every start; it is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
