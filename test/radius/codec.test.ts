import radius from 'radius';
import { describe, expect, it } from 'vitest';
import {
  accountingAttributes,
  decodeAccountingRequest,
  encodeAccountingResponse,
  loadRadiusDictionaries,
  readHeader,
} from '../../src/radius/codec.js';

const SECRET = 'codec-test-secret';

function accountingRequest(attributes: unknown[], identifier = 7): Buffer {
  loadRadiusDictionaries();
  return radius.encode({ code: 'Accounting-Request', identifier, secret: SECRET, attributes });
}

function decoded(datagram: Buffer) {
  const reading = readHeader(datagram);
  if (!('header' in reading)) throw new Error(`header refused: ${reading.reason}`);
  return decodeAccountingRequest(datagram, reading.header, SECRET);
}

describe('RADIUS codec', () => {
  it('reads a signed Accounting-Request into FreeRADIUS text attributes, and signs its response', () => {
    const datagram = accountingRequest([
      ['User-Name', 'alice'],
      ['Acct-Status-Type', 'Start'],
      ['Acct-Session-Id', 's1'],
      ['Framed-IP-Address', '100.64.1.2'],
      ['Event-Timestamp', new Date(1_700_000_000_000)],
    ]);
    const reading = decoded(datagram);
    if (!('request' in reading)) throw new Error(reading.reason);
    expect(reading.request.identifier).toBe(7);
    expect(Object.fromEntries(accountingAttributes(reading.request.packet))).toEqual({
      'User-Name': ['"alice"'],
      'Acct-Status-Type': ['Start'],
      'Acct-Session-Id': ['"s1"'],
      'Framed-IP-Address': ['100.64.1.2'],
      'Event-Timestamp': ['1700000000'],
    });
    const response = encodeAccountingResponse(reading.request, SECRET);
    expect(response[0]).toBe(5);
    expect(response[1]).toBe(7);
    expect(radius.verify_response({ response, request: datagram, secret: SECRET })).toBe(true);
  });

  it('refuses a packet signed with another secret as a bad authenticator', () => {
    loadRadiusDictionaries();
    const datagram = radius.encode({
      code: 'Accounting-Request',
      identifier: 1,
      secret: 'another-secret',
      attributes: [['User-Name', 'alice']],
    });
    expect(decoded(datagram)).toEqual({
      problem: 'bad_authenticator',
      reason: 'its authenticator does not match the client secret',
    });
  });

  it('refuses a tampered packet: one changed attribute octet breaks the authenticator', () => {
    const datagram = accountingRequest([['User-Name', 'alice']]);
    datagram.writeUInt8(datagram.readUInt8(datagram.length - 1) ^ 0x01, datagram.length - 1);
    expect(decoded(datagram)).toMatchObject({ problem: 'bad_authenticator' });
  });

  it('refuses short, mislengthed and malformed datagrams, and other codes, before any secret', () => {
    expect(readHeader(Buffer.alloc(10))).toEqual({
      problem: 'malformed',
      reason: 'is 10 octets, shorter than a RADIUS header (20)',
    });
    const datagram = accountingRequest([['User-Name', 'alice']]);
    const longer = Buffer.from(datagram);
    longer.writeUInt16BE(datagram.length + 10, 2);
    expect(readHeader(longer)).toMatchObject({ problem: 'malformed', reason: expect.stringContaining('Length') });
    const tooShortLength = Buffer.from(datagram);
    tooShortLength.writeUInt16BE(19, 2);
    expect(readHeader(tooShortLength)).toEqual({ problem: 'malformed', reason: 'has Length 19, outside 20-4096' });
    // An attribute whose length runs past the packet's end.
    const overrun = Buffer.from(datagram);
    overrun[21] = 200;
    expect(readHeader(overrun)).toEqual({
      problem: 'malformed',
      reason: 'has an attribute at octet 20 that does not fit the packet',
    });
    const accessRequest = Buffer.from(datagram);
    accessRequest[0] = 1;
    expect(readHeader(accessRequest)).toEqual({
      problem: 'not_accounting_request',
      reason: 'has code 1, not Accounting-Request (4)',
    });
  });

  it('ignores padding past the Length field', () => {
    const datagram = accountingRequest([['User-Name', 'alice']]);
    const padded = Buffer.concat([datagram, Buffer.alloc(8)]);
    expect(decoded(padded)).toHaveProperty('request');
  });

  it('reads IPv6 prefixes and addresses, RFC 6911 included, repeated ones in the order sent', () => {
    const datagram = accountingRequest([
      ['User-Name', 'bob'],
      ['Acct-Status-Type', 'Interim-Update'],
      ['Acct-Session-Id', 's2'],
      // ipv6prefix: reserved octet, prefix length, then the prefix's significant octets.
      ['Framed-IPv6-Prefix', Buffer.from([0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0])],
      ['Framed-IPv6-Prefix', Buffer.from([0, 64, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0])],
      ['Delegated-IPv6-Prefix', Buffer.from([0, 56, 0x20, 0x01, 0x0d, 0xb8, 0xab, 0xcd, 0x12, 0])],
      ['Framed-IPv6-Address', Buffer.from('20010db8000000010000000000000005', 'hex')],
    ]);
    const reading = decoded(datagram);
    if (!('request' in reading)) throw new Error(reading.reason);
    const attributes = accountingAttributes(reading.request.packet);
    expect(attributes.get('Framed-IPv6-Prefix')).toEqual(['2001:db8:1::/64', '2001:db8:2::/64']);
    expect(attributes.get('Delegated-IPv6-Prefix')).toEqual(['2001:db8:abcd:1200::/56']);
    expect(attributes.get('Framed-IPv6-Address')).toEqual(['2001:db8:0:1::5']);
  });

  it('refuses a malformed IPv6 prefix by the attribute name', () => {
    const datagram = accountingRequest([
      ['User-Name', 'bob'],
      // Prefix length 129: no IPv6 prefix.
      ['Framed-IPv6-Prefix', Buffer.from([0, 129, 0x20, 0x01])],
    ]);
    const reading = decoded(datagram);
    if (!('request' in reading)) throw new Error(reading.reason);
    expect(() => accountingAttributes(reading.request.packet)).toThrow(/Framed-IPv6-Prefix/);
  });
});
