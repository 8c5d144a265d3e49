"""The notebook layer: kernel scheduler, ``%schedule`` magics, output capture, display.

Nothing here is imported by ``import nbsched``; ``%load_ext nbsched`` pulls it in.
"""
