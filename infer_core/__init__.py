"""The core inference module: load a TensorFlow model in any format on a device and run it.

Importing this package does not import TensorFlow; the format modules do, when a model is loaded.
"""
