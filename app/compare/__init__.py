"""The compare window: one original against a ladder of bitrates, by ear (A/B, blind ABX) and by eye.

`session` (no widgets) builds the ladder on the task runner and keeps the decoded rungs; `window` lays out
the `spectrogram_view` (with its `viewbox` and `frequency_axis`), the `ladder_table`, the `controls` and the
`transport`; `abx` is the blind test's pure logic and `abx_dialog` its window.
"""
