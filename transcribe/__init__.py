"""The transcriber (issue 5): live captions, per-speaker transcripts and action items.

A worker of its own (``python -m transcribe``), never inside the SFU process: it joins rooms
through the public protocol as a hidden participant with the ``transcriber`` grant, takes
each participant's audio, cuts it into utterances with voice activity detection and runs
Whisper (faster-whisper) on each. The speech and text parts are pure modules with no network
code: ``recognizer``, ``vad``, ``utterances``, ``speech_pool``, ``action_items``,
``due_dates``, ``transcript_formats``.
"""
