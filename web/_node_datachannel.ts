// The page build's stand-in for `node-datachannel` (scripts/build.ts swaps it in for the web
// bundles): transports/webrtc.ts loads that native library on first use only, and a page never
// uses it, since it opens data channels with the platform's RTCPeerConnection (web/webrtc.ts).
// Loading this module says so.
throw new TypeError(
  "a page opens WebRTC data channels with RTCPeerConnection (web/webrtc.ts), not node-datachannel",
);
