/**
 * Session descriptions and ICE candidates of the size and shape Chromium produces for a call
 * with one microphone and one camera (BUNDLE, opus, VP8/VP9/H264/AV1 with RTX, RED/ULPFEC,
 * the usual header extensions): a relay's cost depends on the bytes it moves, so benchmarks
 * send what a browser sends, not a placeholder.
 */

const audioCodecs = [
  [111, 'opus/48000/2', 'minptime=10;useinbandfec=1'],
  [63, 'red/48000/2', '111/111'],
  [9, 'G722/8000', ''],
  [0, 'PCMU/8000', ''],
  [8, 'PCMA/8000', ''],
  [13, 'CN/8000', ''],
  [110, 'telephone-event/48000', ''],
  [126, 'telephone-event/8000', ''],
] as const;

const h264 = (pt: number, profile: string, mode: number) =>
  [pt, 'H264/90000', `level-asymmetry-allowed=1;packetization-mode=${mode};profile-level-id=${profile}`] as const;

const videoCodecs = [
  [96, 'VP8/90000', ''],
  [98, 'VP9/90000', 'profile-id=0'],
  [100, 'VP9/90000', 'profile-id=2'],
  h264(102, '42001f', 1),
  h264(104, '42001f', 0),
  h264(106, '42e01f', 1),
  h264(108, '42e01f', 0),
  h264(112, '4d001f', 1),
  h264(127, 'f4001f', 1),
  [45, 'AV1/90000', 'level-idx=5;profile=0;tier=0'],
] as const;

const audioExt = [
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'urn:ietf:params:rtp-hdrext:sdes:mid',
];
const videoExt = [
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'urn:3gpp:video-orientation',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'http://www.webrtc.org/experiments/rtp-hdrext/video-content-type',
  'http://www.webrtc.org/experiments/rtp-hdrext/video-timing',
  'http://www.webrtc.org/experiments/rtp-hdrext/color-space',
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
];

/** Deterministic pseudo-random hex of `n` characters from a number, so every lesson's SDP differs a little. */
function hex(seed: number, n: number): string {
  let x = (seed * 2_654_435_761 + 0x9e3779b9) >>> 0;
  let out = '';
  while (out.length < n) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out += x.toString(16).padStart(8, '0');
  }
  return out.slice(0, n);
}

function media(kind: 'audio' | 'video', mid: number, seed: number, setup: 'actpass' | 'active'): string[] {
  const codecs = kind === 'audio' ? audioCodecs : videoCodecs;
  const pts: number[] = [];
  const lines: string[] = [];
  let rtx = kind === 'video' ? 97 : 0;
  for (const [pt, name, fmtp] of codecs) {
    pts.push(pt);
    lines.push(`a=rtpmap:${pt} ${name}`);
    if (kind === 'video')
      lines.push(`a=rtcp-fb:${pt} goog-remb`, `a=rtcp-fb:${pt} transport-cc`, `a=rtcp-fb:${pt} ccm fir`, `a=rtcp-fb:${pt} nack`, `a=rtcp-fb:${pt} nack pli`);
    else if (pt === 111) lines.push(`a=rtcp-fb:${pt} transport-cc`);
    if (fmtp) lines.push(`a=fmtp:${pt} ${fmtp}`);
    if (kind === 'video') {
      while ([...codecs.map((c) => c[0]), ...pts].includes(rtx)) rtx++;
      pts.push(rtx);
      lines.push(`a=rtpmap:${rtx} rtx/90000`, `a=fmtp:${rtx} apt=${pt}`);
      rtx++;
    }
  }
  const ssrc = Number.parseInt(hex(seed + mid, 8), 16);
  const stream = hex(seed, 32);
  return [
    `m=${kind} 9 UDP/TLS/RTP/SAVPF ${pts.join(' ')}`,
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=ice-ufrag:${hex(seed, 4)}`,
    `a=ice-pwd:${hex(seed + 7, 24)}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${(hex(seed + 3, 64).match(/../g) ?? []).join(':').toUpperCase()}`,
    `a=setup:${setup}`,
    `a=mid:${mid}`,
    ...(kind === 'audio' ? audioExt : videoExt).map((u, i) => `a=extmap:${i + 1} ${u}`),
    'a=sendrecv',
    `a=msid:${stream} ${hex(seed + mid + 11, 32)}`,
    'a=rtcp-mux',
    ...(kind === 'video' ? ['a=rtcp-rsize'] : []),
    ...lines,
    ...(kind === 'video' ? [`a=ssrc-group:FID ${ssrc} ${ssrc + 1}`] : []),
    `a=ssrc:${ssrc} cname:${hex(seed + 5, 16)}`,
    `a=ssrc:${ssrc} msid:${stream} ${hex(seed + mid + 11, 32)}`,
    ...(kind === 'video' ? [`a=ssrc:${ssrc + 1} cname:${hex(seed + 5, 16)}`, `a=ssrc:${ssrc + 1} msid:${stream} ${hex(seed + mid + 11, 32)}`] : []),
  ];
}

function description(seed: number, setup: 'actpass' | 'active'): string {
  const session = [
    'v=0',
    `o=- ${Number.parseInt(hex(seed, 12), 16)} 2 IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    `a=msid-semantic: WMS ${hex(seed, 32)}`,
  ];
  return `${[...session, ...media('audio', 0, seed, setup), ...media('video', 1, seed, setup)].join('\r\n')}\r\n`;
}

/** An offer as Chromium writes it for audio + video (about 5 KB). */
export const offerSdp = (seed: number) => description(seed, 'actpass');
/** The answer to it (Chromium answers with the same codecs it supports). */
export const answerSdp = (seed: number) => description(seed + 1, 'active');

/** An ICE candidate as RTCIceCandidate.toJSON() gives it; `ufrag` rides in usernameFragment. */
export function iceCandidate(index: number, ufrag: string) {
  const kinds = ['host', 'srflx', 'relay'] as const;
  const type = kinds[Math.abs(index) % 3];
  const port = 50_000 + (Math.abs(index) % 10_000);
  const address = type === 'host' ? `192.168.1.${(Math.abs(index) % 250) + 2}` : '203.0.113.7';
  const related = type === 'host' ? '' : ` raddr 192.168.1.2 rport ${port}`;
  return {
    candidate: `candidate:${842_163_049 + index} 1 udp ${type === 'host' ? 2_122_260_223 : 1_686_052_607} ${address} ${port} typ ${type}${related} generation 0 ufrag ${ufrag} network-id 1 network-cost 10`,
    sdpMid: '0',
    sdpMLineIndex: 0,
    usernameFragment: ufrag,
  };
}
