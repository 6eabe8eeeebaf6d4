#!/usr/bin/env python3
"""Decodes the SSZ of ssz_static_minimal.json into the beacon-API JSON shape
(the `json` member of each type): run `python3 decode_ssz_static.py` here
to regenerate it. Minimal preset (MAX_COMMITTEES_PER_SLOT = 4). The roots are
the spec's; the C test (tests/unit/test_eth2.c) checks that our hashing of
the JSON gives them, which also checks this decoding."""
import json
MCPS = 4  # minimal preset
def u64(b): return int.from_bytes(b, 'little')
def hx(b): return '0x' + b.hex()
def offsets(b, fixed_sizes):
    # fixed_sizes: list of int (fixed) or None (variable); returns list of slices
    pos = 0; parts = []; offs = []
    for fs in fixed_sizes:
        if fs is None:
            offs.append((len(parts), u64(b[pos:pos+4]))); parts.append(None); pos += 4
        else:
            parts.append(b[pos:pos+fs]); pos += fs
    assert not offs or offs[0][1] == pos, (offs, pos)
    for k, (i, o) in enumerate(offs):
        end = offs[k+1][1] if k+1 < len(offs) else len(b)
        parts[i] = b[o:end]
    if not offs: assert pos == len(b), (pos, len(b))
    return parts
def fixed_list(b, size, dec):
    assert len(b) % size == 0
    return [dec(b[i:i+size]) for i in range(0, len(b), size)]
def var_list(b, dec):
    if not b: return []
    n = u64(b[:4]) // 4
    offs = [u64(b[4*i:4*i+4]) for i in range(n)] + [len(b)]
    return [dec(b[offs[i]:offs[i+1]]) for i in range(n)]
def checkpoint(b): return {"epoch": str(u64(b[:8])), "root": hx(b[8:40])}
def att_data(b):
    return {"slot": str(u64(b[:8])), "index": str(u64(b[8:16])), "beacon_block_root": hx(b[16:48]),
            "source": checkpoint(b[48:88]), "target": checkpoint(b[88:128])}
def attestation(b):
    p = offsets(b, [None, 128, 96, (MCPS+7)//8])
    return {"aggregation_bits": hx(p[0]), "data": att_data(p[1]), "signature": hx(p[2]), "committee_bits": hx(p[3])}
def agg(b):
    p = offsets(b, [8, None, 96])
    return {"aggregator_index": str(u64(p[0])), "aggregate": attestation(p[1]), "selection_proof": hx(p[2])}
def pad(b): return {"beacon_block_root": hx(b[:32]), "slot": str(u64(b[32:40])),
                    "payload_present": {0: False, 1: True}[b[40]], "blob_data_available": {0: False, 1: True}[b[41]]}
def bid(b):
    p = offsets(b, [32, 32, 32, 32, 20, 8, 8, 8, 8, 8, None, 32])
    return {"parent_block_hash": hx(p[0]), "parent_block_root": hx(p[1]), "block_hash": hx(p[2]), "prev_randao": hx(p[3]),
            "fee_recipient": hx(p[4]), "gas_limit": str(u64(p[5])), "builder_index": str(u64(p[6])), "slot": str(u64(p[7])),
            "value": str(u64(p[8])), "execution_payment": str(u64(p[9])),
            "blob_kzg_commitments": fixed_list(p[10], 48, hx), "execution_requests_root": hx(p[11])}
def deposit_req(b): return {"pubkey": hx(b[:48]), "withdrawal_credentials": hx(b[48:80]), "amount": str(u64(b[80:88])),
                            "signature": hx(b[88:184]), "index": str(u64(b[184:192]))}
def withdrawal_req(b): return {"source_address": hx(b[:20]), "validator_pubkey": hx(b[20:68]), "amount": str(u64(b[68:76]))}
def consolidation_req(b): return {"source_address": hx(b[:20]), "source_pubkey": hx(b[20:68]), "target_pubkey": hx(b[68:116])}
def builder_deposit(b): return {"pubkey": hx(b[:48]), "withdrawal_credentials": hx(b[48:80]), "amount": str(u64(b[80:88])), "signature": hx(b[88:184])}
def builder_exit(b): return {"source_address": hx(b[:20]), "pubkey": hx(b[20:68])}
def exec_requests(b):
    p = offsets(b, [None]*5)
    return {"deposits": fixed_list(p[0], 192, deposit_req), "withdrawals": fixed_list(p[1], 76, withdrawal_req),
            "consolidations": fixed_list(p[2], 116, consolidation_req), "builder_deposits": fixed_list(p[3], 184, builder_deposit),
            "builder_exits": fixed_list(p[4], 68, builder_exit)}
def withdrawal(b): return {"index": str(u64(b[:8])), "validator_index": str(u64(b[8:16])), "address": hx(b[16:36]), "amount": str(u64(b[36:44]))}
def payload(b):
    p = offsets(b, [32, 20, 32, 32, 256, 32, 8, 8, 8, 8, None, 32, 32, None, None, 8, 8, None, 8])
    return {"parent_hash": hx(p[0]), "fee_recipient": hx(p[1]), "state_root": hx(p[2]), "receipts_root": hx(p[3]),
            "logs_bloom": hx(p[4]), "prev_randao": hx(p[5]), "block_number": str(u64(p[6])), "gas_limit": str(u64(p[7])),
            "gas_used": str(u64(p[8])), "timestamp": str(u64(p[9])), "extra_data": hx(p[10]),
            "base_fee_per_gas": str(int.from_bytes(p[11], 'little')), "block_hash": hx(p[12]),
            "transactions": var_list(p[13], hx), "withdrawals": fixed_list(p[14], 44, withdrawal),
            "blob_gas_used": str(u64(p[15])), "excess_blob_gas": str(u64(p[16])), "block_access_list": hx(p[17]),
            "slot_number": str(u64(p[18]))}
def envelope(b):
    p = offsets(b, [None, None, 8, 32, 32])
    return {"payload": payload(p[0]), "execution_requests": exec_requests(p[1]), "builder_index": str(u64(p[2])),
            "beacon_block_root": hx(p[3]), "parent_beacon_block_root": hx(p[4])}
DEC = {"AttestationData": att_data, "Attestation": attestation, "AggregateAndProof": agg, "PayloadAttestationData": pad,
       "ExecutionPayloadBid": bid, "ExecutionRequests": exec_requests, "ExecutionPayload": payload, "ExecutionPayloadEnvelope": envelope}


def main():
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ssz_static_minimal.json")
    with open(path) as f:
        doc = json.load(f)
    for name, t in doc["types"].items():
        t["json"] = DEC[name](bytes.fromhex(t["ssz"][2:]))
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
