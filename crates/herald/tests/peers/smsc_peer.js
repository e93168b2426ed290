// An SMSC for the smpp provider's tests: the npm package `smpp` (SMPP 3.4)
// in server mode. Started by crates/herald/tests/api/providers/smpp.rs as
//   node smsc_peer.js CONFIG.json
// CONFIG: {
//   "system_id": "herald", "password": "secret1",   bind_transceiver must match
//                                                     (else ESME_RINVPASWD / ESME_RINVSYSID)
//   "refuse": ["15550000000"],                      submit_sm answered ESME_RINVDSTADR
//   "throttle_once": ["15550000001"],               first submit_sm answered ESME_RTHROTTLED
//   "max_per_second": 5,                            a submit_sm beyond 5 accepted in the
//                                                     last second answered ESME_RTHROTTLED
//   "drop_after": 1,                                 close the link after N submit_sm (once)
//   "receipts": {"15550000002": "UNDELIV"},         receipt stat per number (default DELIVRD)
//   "tlv_receipts": ["15550000003"],                 receipts also carry the TLVs
//   "receipt_delay_ms": 200
// }
// Prints JSON lines (its log): {"event":"listening","port":N}, one "bind"
// per bind, one "submit_sm" per submit_sm (destination, text, data_coding,
// esm_class, UDH parts, message id), "deliver_sm" per receipt sent
// ("again": true when it is a redelivery), "deliver_sm_resp" per receipt
// acknowledged (with its message id), "owed" when a link closed with
// receipts unacknowledged, "dropped" when it closes a link. Every event of a
// link carries "sid", the link's number (1, 2, ...), and every event "at",
// the peer's clock in milliseconds. Exits when stdin closes.
//
// Like a real SMSC it keeps a receipt until the ESME acknowledges it: one
// whose deliver_sm was not answered with deliver_sm_resp before the link
// closed (or that fell due while no one was bound) is delivered again on
// the next bind.
'use strict';
const fs = require('fs');
const smpp = require('smpp');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const say = (o) => process.stdout.write(JSON.stringify({ ...o, at: Date.now() }) + '\n');
// When the submits accepted in the last second were accepted (max_per_second).
let accepted = [];
const throttled = new Set();
let submits = 0;
let dropped = false;
let nextId = 1000;
let sessions = 0;
// Receipts not yet acknowledged by any link, oldest first.
let owed = [];
let current = null;

// Sends a receipt on the bound link, or keeps it for the next bind.
function deliver(receipt, again) {
  const link = current;
  if (!link || !link.session.socket.writable) {
    owed.push(receipt);
    return;
  }
  const id = receipt.message_id;
  link.unacked.set(id, receipt);
  say({ event: 'deliver_sm', sid: link.sid, message_id: id, stat: receipt.stat, tlv: receipt.tlv, again });
  const ok = link.session.deliver_sm(receipt.pdu, (resp) => {
    if (!link.unacked.delete(id)) return;
    say({ event: 'deliver_sm_resp', sid: link.sid, message_id: id, status: resp.command_status });
    if (resp.command_status !== 0) owed.push(receipt);
  });
  if (!ok) {
    link.unacked.delete(id);
    owed.push(receipt);
  }
}

const server = smpp.createServer({ debug: false }, (session) => {
  let bound = false;
  const link = { session, sid: ++sessions, unacked: new Map() };
  session.on('error', () => {});
  session.on('close', () => {
    if (current === link) current = null;
    const left = Array.from(link.unacked.values());
    link.unacked.clear();
    if (left.length > 0) {
      say({ event: 'owed', sid: link.sid, count: left.length });
      owed.push(...left);
    }
  });
  session.on('bind_transceiver', (pdu) => {
    session.pause();
    if (pdu.system_id !== (cfg.system_id || 'herald')) {
      say({ event: 'bind', ok: false, reason: 'system_id' });
      session.send(pdu.response({ command_status: smpp.ESME_RINVSYSID }));
      session.close();
      return;
    }
    if (pdu.password !== cfg.password) {
      say({ event: 'bind', ok: false, reason: 'password' });
      session.send(pdu.response({ command_status: smpp.ESME_RINVPASWD }));
      session.close();
      return;
    }
    bound = true;
    current = link;
    say({ event: 'bind', ok: true, sid: link.sid, system_type: pdu.system_type });
    session.send(pdu.response({ system_id: 'smsc_peer' }));
    session.resume();
    // What earlier links left unacknowledged comes now.
    const again = owed;
    owed = [];
    for (const r of again) deliver(r, true);
  });
  session.on('enquire_link', (pdu) => session.send(pdu.response()));
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    session.close();
  });
  session.on('submit_sm', (pdu) => {
    if (!bound) {
      session.send(pdu.response({ command_status: smpp.ESME_RINVBNDSTS }));
      return;
    }
    submits += 1;
    const to = pdu.destination_addr;
    const sm = pdu.short_message || {};
    const udh = (sm.udh || []).map((b) => Array.from(b));
    const text = typeof sm.message === 'string' ? sm.message : String(sm.message || '');
    const base = {
      event: 'submit_sm',
      sid: link.sid,
      destination: to,
      source: pdu.source_addr,
      source_ton: pdu.source_addr_ton,
      data_coding: pdu.data_coding,
      esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery,
      // A relative validity_period decodes to a Date: how far ahead it is.
      validity_ms_ahead:
        pdu.validity_period instanceof Date ? pdu.validity_period.getTime() - Date.now() : null,
      udh,
      units: text.length,
      text,
    };
    if ((cfg.refuse || []).includes(to)) {
      say({ ...base, status: 'ESME_RINVDSTADR' });
      session.send(pdu.response({ command_status: smpp.ESME_RINVDSTADR }));
      return;
    }
    if ((cfg.throttle_once || []).includes(to) && !throttled.has(to)) {
      throttled.add(to);
      say({ ...base, status: 'ESME_RTHROTTLED' });
      session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
      return;
    }
    if (cfg.max_per_second) {
      const now = Date.now();
      accepted = accepted.filter((t) => t > now - 1000);
      if (accepted.length >= cfg.max_per_second) {
        say({ ...base, status: 'ESME_RTHROTTLED' });
        session.send(pdu.response({ command_status: smpp.ESME_RTHROTTLED }));
        return;
      }
      accepted.push(now);
    }
    const id = 'M' + nextId++;
    say({ ...base, status: 'ok', message_id: id });
    session.send(pdu.response({ message_id: id }));
    if (cfg.drop_after && !dropped && submits >= cfg.drop_after) {
      dropped = true;
      say({ event: 'dropped', sid: link.sid });
      setTimeout(() => session.close(), 50);
      return;
    }
    const stat = (cfg.receipts || {})[to] || 'DELIVRD';
    const tlv = (cfg.tlv_receipts || []).includes(to);
    setTimeout(() => {
      const err = stat === 'DELIVRD' ? '000' : '001';
      const dlvrd = stat === 'DELIVRD' ? '001' : '000';
      // SMSCs write receipts in the default alphabet; the text sample is
      // cut to printable ASCII so the receipt stays GSM-7 here too.
      const receipt = {
        source_addr: to,
        destination_addr: pdu.source_addr,
        esm_class: 4,
        short_message:
          `id:${id} sub:001 dlvrd:${dlvrd} submit date:2401011200 done date:2401011201 stat:${stat} err:${err} text:${text.slice(0, 20).replace(/[^\x20-\x7e]/g, '?')}`,
      };
      if (tlv) {
        receipt.receipted_message_id = id;
        receipt.message_state = { DELIVRD: 2, EXPIRED: 3, UNDELIV: 5, REJECTD: 8 }[stat] || 5;
      }
      deliver({ message_id: id, stat, tlv, pdu: receipt }, false);
    }, cfg.receipt_delay_ms || 100);
  });
});

server.listen(0, '127.0.0.1', () => say({ event: 'listening', port: server.address().port }));
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
