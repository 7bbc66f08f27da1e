"""The Live view: hear an input device through the codec in real time.

`processor` (pure, model rate) turns input blocks into the codec's output, aligned with the original;
`pipeline` runs it on a worker thread between two ring buffers fed and drained by a sounddevice callback;
`devices`, `meters` and `view` are the UI around it. Only `meters` and `view` import Qt.
"""
