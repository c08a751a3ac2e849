// In-place packet rewrites used by the reference datapath's actions. Every function takes the
// packet and its current parse, edits the bytes, and keeps every checksum the packet carried
// valid (incrementally where the change is local). Callers re-parse after an edit.
#ifndef DPU_BACKENDS_REFERENCE_PACKET_EDIT_H_
#define DPU_BACKENDS_REFERENCE_PACKET_EDIT_H_

#include <cstdint>
#include <vector>

#include "dpu/action.h"
#include "dpu/packet.h"

namespace dpu::reference {

// Each returns true when it changed the packet, false when the packet lacks the header the
// action needs (the action is then a no-op, see docs/rule-semantics.md).
bool PushVlan(std::vector<uint8_t>& pkt, const ParsedPacket& pp, uint16_t vid, uint8_t pcp);
bool PopVlan(std::vector<uint8_t>& pkt, const ParsedPacket& pp);
bool SetMac(std::vector<uint8_t>& pkt, const ParsedPacket& pp, bool src, const MacAddress& mac);
bool SetIp(std::vector<uint8_t>& pkt, const ParsedPacket& pp, bool src, const IpAddress& ip);
bool SetPort(std::vector<uint8_t>& pkt, const ParsedPacket& pp, bool src, uint16_t port);
bool Encap(std::vector<uint8_t>& pkt, const ParsedPacket& pp, const TunnelEncapAction& a);
bool Decap(std::vector<uint8_t>& pkt, const ParsedPacket& pp);

// The outer UDP source port an encapsulation uses for this packet: 49152 + (hash of the inner
// flow mod 16384), so packets of one flow take one path.
uint16_t EncapSourcePort(const ParsedPacket& pp);

}  // namespace dpu::reference

#endif  // DPU_BACKENDS_REFERENCE_PACKET_EDIT_H_
