// Feeds arbitrary bytes to every decoder of untrusted input: proofs (the
// `data` message), manifests, multisig envelopes and the compact-encoding
// primitives. None may read out of bounds, loop, or accept trailing garbage,
// and whatever decodes must encode back to the bytes it came from where the
// encoding is canonical.
#include <cstddef>
#include <cstdint>

#include "base/encoding.h"
#include "base/check.h"
#include "log/manifest.h"
#include "log/proof.h"

using namespace shoal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteView in(data, size);
  if (size == 0) return 0;
  ByteView body = in.subspan(1);
  switch (data[0] % 4) {
    case 0: {
      auto proof = log::DecodeProof(body);
      if (proof.ok()) {
        Bytes again = log::EncodeProof(*proof);
        auto twice = log::DecodeProof(again);
        SHOAL_CHECK(twice.ok());
        SHOAL_CHECK(log::EncodeProof(*twice) == again);
      }
      break;
    }
    case 1: {
      auto m = log::DecodeManifest(body);
      if (m.ok()) {
        auto again = log::DecodeManifest(log::EncodeManifest(*m));
        SHOAL_CHECK(again.ok() && *again == *m);
      }
      break;
    }
    case 2: {
      auto s = log::DecodeMultiSignature(body);
      if (s.ok()) SHOAL_CHECK(log::DecodeMultiSignature(log::EncodeMultiSignature(*s)).ok());
      break;
    }
    case 3: {
      enc::Decoder d(body);
      while (d.ok() && !d.done()) {
        switch (d.Uint8() % 8) {
          case 0: d.Uint(); break;
          case 1: d.Int(); break;
          case 2: d.Buffer(); break;
          case 3: d.Uint32Array(); break;
          case 4: d.Fixed<32>(); break;
          case 5: d.Bool(); break;
          case 6: d.Uint64(); break;
          case 7: d.ArrayLength(1); break;
        }
      }
      break;
    }
  }
  return 0;
}
