#include "net/secret_stream.h"

#include <gtest/gtest.h>

#include "crypto/hash.h"

namespace shoal::net {
namespace {

struct Pair {
  SecretStream a{true, crypto::RandomKeyPair()};
  SecretStream b{false, crypto::RandomKeyPair()};
  std::vector<std::string> got_a, got_b;

  Status Deliver(SecretStream& to, std::vector<std::string>& got, ByteView bytes, size_t chunk) {
    for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
      size_t n = std::min(chunk, bytes.size() - pos);
      SHOAL_RETURN_IF_ERROR(to.Receive(bytes.subspan(pos, n), [&](ByteView m) {
        got.emplace_back(AsString(m));
        return Status::OK();
      }));
    }
    return Status::OK();
  }
  // Moves output both ways until both are quiet.
  Status Pump(size_t chunk = 1 << 20) {
    while (a.has_output() || b.has_output()) {
      Bytes from_a = a.TakeOutput();
      SHOAL_RETURN_IF_ERROR(Deliver(b, got_b, from_a, chunk));
      Bytes from_b = b.TakeOutput();
      SHOAL_RETURN_IF_ERROR(Deliver(a, got_a, from_b, chunk));
    }
    return Status::OK();
  }
};

TEST(SecretStream, HandshakeThenMessagesBothWays) {
  Pair p;
  ASSERT_TRUE(p.a.Send(AsBytes("early")).ok());  // queued until the handshake is done
  ASSERT_TRUE(p.Pump().ok());
  EXPECT_TRUE(p.a.established());
  EXPECT_TRUE(p.b.established());
  EXPECT_EQ(p.a.handshake_hash(), p.b.handshake_hash());
  ASSERT_TRUE(p.a.Send(AsBytes("hello")).ok());
  ASSERT_TRUE(p.b.Send(AsBytes("world")).ok());
  p.b.SendKeepAlive();  // dropped by the receiver
  ASSERT_TRUE(p.Pump().ok());
  EXPECT_EQ(p.got_b, (std::vector<std::string>{"early", "hello"}));
  EXPECT_EQ(p.got_a, (std::vector<std::string>{"world"}));
}

TEST(SecretStream, FramesSplitAcrossReads) {
  Pair p;
  std::string big(200000, 'x');
  ASSERT_TRUE(p.a.Send(AsBytes(big)).ok());
  ASSERT_TRUE(p.a.Send(AsBytes("")).ok());
  ASSERT_TRUE(p.a.Send(AsBytes("after")).ok());
  ASSERT_TRUE(p.Pump(1).ok());  // one byte at a time through the handshake
  ASSERT_EQ(p.got_b.size(), 2u);
  EXPECT_EQ(p.got_b[0], big);
  EXPECT_EQ(p.got_b[1], "after");
  ASSERT_TRUE(p.b.Send(AsBytes("x")).ok());
  ASSERT_TRUE(p.Pump(7).ok());
  EXPECT_EQ(p.got_a, (std::vector<std::string>{"x"}));
}

TEST(SecretStream, TamperedMessageFails) {
  Pair p;
  ASSERT_TRUE(p.Pump().ok());
  ASSERT_TRUE(p.a.Send(AsBytes("secret")).ok());
  Bytes out = p.a.TakeOutput();
  out[5] ^= 0x01;
  Status st = p.b.Receive(out, [](ByteView) { return Status::OK(); });
  EXPECT_EQ(st.code(), Status::Code::kVerificationFailed);
  // The failure is final.
  EXPECT_FALSE(p.b.Receive(AsBytes("\x00\x00\x00"), [](ByteView) { return Status::OK(); }).ok());
}

TEST(SecretStream, BadHeaderFrames) {
  {
    Pair p;
    // Stop after the handshake messages, then swap the id frame's bytes.
    Bytes m1 = p.a.TakeOutput();
    ASSERT_TRUE(p.b.Receive(m1, [](ByteView) { return Status::OK(); }).ok());
    Bytes m2 = p.b.TakeOutput();
    ASSERT_TRUE(p.a.Receive(m2, [](ByteView) { return Status::OK(); }).ok());
    Bytes m3_and_header = p.a.TakeOutput();  // msg3 (3 + 64) then the 59-byte id frame
    ASSERT_EQ(m3_and_header.size(), 67u + 59u);
    m3_and_header[67 + 3] ^= 1;  // the initiator's stream id
    EXPECT_EQ(p.b.Receive(m3_and_header, [](ByteView) { return Status::OK(); }).code(),
              Status::Code::kVerificationFailed);
  }
  {
    Pair p;
    Bytes m1 = p.a.TakeOutput();
    ASSERT_TRUE(p.b.Receive(m1, [](ByteView) { return Status::OK(); }).ok());
    Bytes m2 = p.b.TakeOutput();
    ASSERT_TRUE(p.a.Receive(m2, [](ByteView) { return Status::OK(); }).ok());
    Bytes out = p.a.TakeOutput();
    out.resize(67);
    out.insert(out.end(), {3, 0, 0, 1, 2, 3});  // a 3-byte header frame
    EXPECT_EQ(p.b.Receive(out, [](ByteView) { return Status::OK(); }).code(),
              Status::Code::kMalformed);
  }
  {
    SecretStream b(false, crypto::RandomKeyPair());
    Bytes junk = {5, 0, 0, 1, 2, 3, 4, 5};  // a 5-byte "msg1"
    EXPECT_EQ(b.Receive(junk, [](ByteView) { return Status::OK(); }).code(),
              Status::Code::kMalformed);
  }
}

TEST(SecretStream, ReceiverErrorStopsParsing) {
  Pair p;
  ASSERT_TRUE(p.Pump().ok());
  ASSERT_TRUE(p.a.Send(AsBytes("one")).ok());
  ASSERT_TRUE(p.a.Send(AsBytes("two")).ok());
  Bytes out = p.a.TakeOutput();
  int calls = 0;
  Status st = p.b.Receive(out, [&](ByteView) {
    calls++;
    return Status::Malformed("no");
  });
  EXPECT_EQ(st.code(), Status::Code::kMalformed);
  EXPECT_EQ(calls, 1);
}

TEST(SecretStream, RefusesOversizedMessage) {
  SecretStream a(true, crypto::RandomKeyPair());
  Bytes big(kMaxMessage + 1);
  EXPECT_EQ(a.Send(big).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace shoal::net
