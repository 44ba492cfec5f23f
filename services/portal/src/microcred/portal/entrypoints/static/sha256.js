// SHA-256 (FIPS 180-4) fed in pieces, for the digest the submission service wants when a file is declared.
//
// Why our own: SubtleCrypto.digest takes the whole file at once (a 2 GB classroom video would have to sit in memory),
// and it has no incremental form. An npm library would do the same hundred lines and need vendoring with its
// provenance; this one is small enough to read, has no dependencies, and tests/portal/test_uploads.py checks it in
// Chromium against the FIPS vectors and against Python's hashlib across piece boundaries.
(function () {
  "use strict";
  var K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);

  function Sha256() {
    this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    this.w = new Uint32Array(64);
    this.block = new Uint8Array(64);  // bytes waiting for a full block
    this.filled = 0;
    this.length = 0;                  // bytes hashed so far (a double holds 2^53: files far beyond any limit)
  }

  // One 64-byte block of `bytes` starting at `at`.
  Sha256.prototype.compress = function (bytes, at) {
    var w = this.w, h = this.h, i, t1, t2, x, y;
    for (i = 0; i < 16; i++, at += 4) {
      w[i] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
    }
    for (i = 16; i < 64; i++) {
      x = w[i - 15]; y = w[i - 2];
      w[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[i - 16] +
             (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[i - 7];
    }
    var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
      t1 = (k + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
            ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
            ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  };

  Sha256.prototype.update = function (bytes) {
    var at = 0, n = bytes.length;
    this.length += n;
    if (this.filled) {  // top up the waiting block first
      var take = Math.min(64 - this.filled, n);
      this.block.set(bytes.subarray(0, take), this.filled);
      this.filled += take;
      at = take;
      if (this.filled < 64) { return this; }
      this.compress(this.block, 0);
      this.filled = 0;
    }
    for (; at + 64 <= n; at += 64) { this.compress(bytes, at); }
    if (at < n) { this.block.set(bytes.subarray(at), 0); this.filled = n - at; }
    return this;
  };

  Sha256.prototype.hex = function () {
    var bits = this.length * 8;
    var tail = new Uint8Array(this.filled < 56 ? 64 : 128);
    tail.set(this.block.subarray(0, this.filled));
    tail[this.filled] = 0x80;
    var end = tail.length;
    var high = Math.floor(bits / 0x100000000), low = bits >>> 0;
    tail[end - 8] = high >>> 24; tail[end - 7] = high >>> 16; tail[end - 6] = high >>> 8; tail[end - 5] = high;
    tail[end - 4] = low >>> 24; tail[end - 3] = low >>> 16; tail[end - 2] = low >>> 8; tail[end - 1] = low;
    for (var at = 0; at < end; at += 64) { this.compress(tail, at); }
    var out = "";
    for (var i = 0; i < 8; i++) { out += ("0000000" + this.h[i].toString(16)).slice(-8); }
    return out;
  };

  // The digest of a File (or Blob) read a piece at a time, telling onProgress(bytes read) as it goes.
  async function ofBlob(blob, onProgress, pieceBytes) {
    var hash = new Sha256(), step = pieceBytes || 4 * 1024 * 1024;
    for (var at = 0; at < blob.size; at += step) {
      hash.update(new Uint8Array(await blob.slice(at, Math.min(blob.size, at + step)).arrayBuffer()));
      if (onProgress) { onProgress(Math.min(blob.size, at + step)); }
    }
    return hash.hex();
  }

  window.MicrocredSha256 = { create: function () { return new Sha256(); }, ofBlob: ofBlob };
}());
