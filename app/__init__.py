"""ECDC Studio's desktop app (PySide6). It calls only `codec`'s public API and never imports torch itself
before a job needs it, so the window shows fast.

Core objects (no widgets):
- `app.tasks.TaskRunner`: runs `fn(progress, cancel)` on worker threads, posts results back to the UI thread.
- `app.codec_bridge.CodecBridge`: the shared `ModelPool` and thin wrappers of `codec.jobs` (the engine), used
  from workers.
- `app.queue_model.QueueModel` / `QueueItem`: the queue as a table model.
- `app.queue_controller.CompressionQueue`: what runs when; outcomes go to the model and to signals.
- `app.settings.AppSettings`: what persists between runs (QSettings).

Widgets, one per file: `main_window` (its actions and menus in `main_actions`), `drop_area`, `queue_table`,
`settings_strip`, `bandwidth_slider`, `weights_dialog`, `models_dialog` (and the listening tools: `player`,
with `audio_devices`, and the `compare` and `live` packages). `estimates` holds the numbers and the lines
built from them, without widgets.
Entry point: `app.main:main` (`encodec-studio [FILES...]`).
"""
