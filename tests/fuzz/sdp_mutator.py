"""Structure-aware SDP mutations: lines, attributes, m-lines and whole sections.

Each mutant applies one to four operators to a seed offer. The operators follow the ways
real SDP parsers broke (aiortc ``sdp.py`` asserts and bare ``int()``; RFC 8866 section 5
grammar edges): dropped, repeated, swapped or truncated lines, numbers out of range,
control and Unicode characters, corrupted attribute values, and m-section blow-ups.
"""

from __future__ import annotations

import random
import re

from .mutator import NUMBERS, STRINGS, TextMutator

# Lines that are valid-looking but wrong in one field; spliced in at random.
TRICKY_LINES = (
    "a=setup:sideways", "a=setup:", "a=group:BUNDLE 7", "a=group:BUNDLE", "a=group:",
    "a=group:LS 0 1", "a=fmtp:96 profile-level-id=zzzzzz", "a=fmtp:96 apt=999",
    "a=fmtp:96 x-google-min-bitrate=abc", "a=fmtp:96 packetization-mode=",
    "a=rtcp-fb:96", "a=rtcp-fb:*", "a=rtcp-fb:96 ", "a=extmap:300 urn:x", "a=extmap:1/sideways x",
    "a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:mid", "a=ssrc-group:FID", "a=ssrc-group:FID 1",
    "a=ssrc-group:SIM 1 2 3", "a=ssrc:0 cname:x", "a=ssrc:4294967296 cname:x", "a=ssrc:1 :",
    "a=bundle-only", "a=sctp-port:99999", "a=sctp-port:0", "a=max-message-size:-1",
    "a=max-message-size:99999999999", "a=candidate:1 1 udp 1 127.0.0.1 0 typ host",
    "a=candidate:1 1 udp 1 ::1 9 typ host", "a=candidate:1 1 udp 1 127.0.0.1 9 typ bogus",
    "a=candidate:1 1 udp 1 127.0.0.1 9 typ relay raddr 0.0.0.0 rport 99999",
    "a=candidate:1 1 tcp 1 127.0.0.1 9 typ host tcptype sideways", "a=rtpmap:96 VP8/0",
    "a=rtpmap:96 VP8/90000/99", "a=rtpmap:111 opus/48000/99", "a=rtpmap:200 VP8/90000",
    "a=rtpmap:96 H264/90000", "a=rtpmap:35 rtx/90000", "a=fmtp:35 apt=96",
    "a=ice-lite", "a=end-of-candidates", "a=msid-semantic:", "a=msid:", "a=mid:",
    "a=mid:0", "a=inactive", "a=sendrecv", "a=rtcp:9 IN IP9 x", "a=rtcp:99999",
    "a=fingerprint:sha-1 00", "a=fingerprint:md5 ::", "a=ice-ufrag:", "a=ice-pwd:",
    "a=rid:h send", "a=simulcast:send h;m;l", "a=extmap-allow-mixed", "a=rtcp-mux-only",
    "c=IN IP4 256.0.0.1", "c=IN IP6 ::1", "c=IN IP4 127.0.0.1/127/3", "b=AS:-1", "b=TIAS:1",
    "t=0 0", "v=0", "o=- 0 0 IN IP4 0.0.0.0", "s=", "i=x", "k=clear:x", "z=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=video 0 UDP/TLS/RTP/SAVPF 96",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "m=video 9 RTP/AVP 96",
)  # fmt: skip
M_LINE = re.compile(r"m=(\w+) (\S+) (\S+) ?(.*)")


class SdpMutator:
    def __init__(self, rng: random.Random, seeds: list[str]) -> None:
        self.rng = rng
        self.text = TextMutator(rng)
        self.seeds = seeds
        self.seed_lines = [seed.splitlines() for seed in seeds]

    def mutant(self, seed: str, max_ops: int = 4) -> str:
        lines = seed.splitlines()
        for _ in range(self.rng.randint(1, max_ops)):
            lines = self.mutate_lines(lines)
        ending = self.rng.choices(("\r\n", "\n", "\r", "\r\r\n"), weights=(90, 6, 2, 2))[0]
        text = ending.join(lines) + (ending if self.rng.random() < 0.9 else "")
        if self.rng.random() < 0.05:
            text = text[: self.rng.randrange(len(text) + 1)]  # truncation anywhere
        return text

    def mutate_lines(self, lines: list[str]) -> list[str]:
        if not lines:
            return [self.rng.choice(TRICKY_LINES)]
        rng = self.rng
        out = list(lines)
        i = rng.randrange(len(out))
        op = rng.randrange(14)
        if op == 0:
            del out[i]
        elif op == 1:
            out.insert(rng.randrange(len(out) + 1), out[i])
        elif op == 2:
            j = rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
        elif op == 3:
            out[i] = out[i][: rng.randrange(len(out[i]) + 1)]
        elif op == 4:
            out[i] = self.text.mutate(out[i])
        elif op == 5:
            out[i] = self.text.replace_number(out[i])
        elif op == 6:
            out[i] = self.corrupt_value(out[i])
        elif op == 7:
            out[i] = self.corrupt_token(out[i])
        elif op == 8:
            out.insert(rng.randrange(len(out) + 1), rng.choice(TRICKY_LINES))
        elif op == 9:
            donor = rng.choice(self.seed_lines)
            out.insert(rng.randrange(len(out) + 1), rng.choice(donor))
        elif op == 10:
            out = self.mutate_m_line(out)
        elif op == 11:
            out = self.blow_up(out)
        elif op == 12:
            out[i] = out[i].upper() if rng.random() < 0.5 else out[i].lower()
        else:
            out = self.splice_section(out)
        return out

    def corrupt_value(self, line: str) -> str:
        """Replace, repeat or clip the value of an ``a=name:value`` line."""
        head, colon, value = line.partition(":")
        if not colon:
            return line + ":" + self.text.junk()
        choice = self.rng.randrange(4)
        if choice == 0:
            value = self.rng.choice(STRINGS + NUMBERS)
        elif choice == 1:
            value = " ".join([value] * self.rng.choice((2, 3, 50)))
        elif choice == 2:
            value = value[: self.rng.randrange(len(value) + 1)]
        else:
            value = self.text.mutate(value)
        return head + colon + value

    def corrupt_token(self, line: str) -> str:
        tokens = line.split(" ")
        k = self.rng.randrange(len(tokens))
        choice = self.rng.randrange(3)
        if choice == 0:
            del tokens[k]
        elif choice == 1:
            tokens.insert(k, tokens[k])
        else:
            tokens[k] = self.text.junk()
        return " ".join(tokens)

    def mutate_m_line(self, lines: list[str]) -> list[str]:
        """Port, profile or payload types of one m-line set to edge values."""
        indexes = [i for i, line in enumerate(lines) if line.startswith("m=")]
        if not indexes:
            return lines
        i = self.rng.choice(indexes)
        match = M_LINE.fullmatch(lines[i])
        if match is None:
            return lines
        kind, port, profile, fmt = match.groups()
        formats = fmt.split(" ")
        choice = self.rng.randrange(5)
        if choice == 0:
            port = self.rng.choice(("0", "-1", "65535", "65536", "99999", "9/2", "9/0", "-9"))
        elif choice == 1:
            profile = self.rng.choice(("RTP/AVP", "UDP/TLS/RTP/SAVP", "TCP/DTLS/SCTP", "X", ""))
        elif choice == 2:
            formats[self.rng.randrange(len(formats))] = self.rng.choice(NUMBERS)
        elif choice == 3:
            formats += self.rng.choices(NUMBERS, k=self.rng.choice((1, 3, 300)))
        else:
            kind = self.rng.choice(("audio", "video", "application", "text", "message", ""))
        lines = list(lines)
        lines[i] = f"m={kind} {port} {profile} {' '.join(formats)}"
        return lines

    def sections(self, lines: list[str]) -> tuple[list[str], list[list[str]]]:
        head: list[str] = []
        sections: list[list[str]] = []
        for line in lines:
            if line.startswith("m="):
                sections.append([line])
            elif sections:
                sections[-1].append(line)
            else:
                head.append(line)
        return head, sections

    def blow_up(self, lines: list[str]) -> list[str]:
        """Many copies of an m-section (fresh or repeated mids) or of one line."""
        head, sections = self.sections(lines)
        count = self.rng.choice((2, 8, 63, 64, 65, 200))
        if not sections or self.rng.random() < 0.3:
            i = self.rng.randrange(len(lines))
            return lines[:i] + [lines[i]] * count * 10 + lines[i:]
        section = self.rng.choice(sections)
        fresh = self.rng.random() < 0.7
        mid = next((k for k, line in enumerate(section) if line.startswith("a=mid:")), None)
        copies = [list(section) for _ in range(count)]
        if fresh and mid is not None:
            for n, copy in enumerate(copies):
                copy[mid] = f"a=mid:x{n}"
        return head + [line for s in sections + copies for line in s]

    def splice_section(self, lines: list[str]) -> list[str]:
        """An m-section from another seed (another browser's dialect) added or swapped in."""
        head, sections = self.sections(lines)
        _, donor = self.sections(self.rng.choice(self.seed_lines))
        if not donor:
            return lines
        graft = self.rng.choice(donor)
        if sections and self.rng.random() < 0.5:
            sections[self.rng.randrange(len(sections))] = graft
        else:
            sections.insert(self.rng.randrange(len(sections) + 1), graft)
        return head + [line for s in sections for line in s]
