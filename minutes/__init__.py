"""Meeting minutes from a transcript (issue 5): action items, their owners and due dates,
and the transcript's export formats. Pure text processing, no network or media code, so the
server (signaling/) and the workers (transcribe/) both use it."""
