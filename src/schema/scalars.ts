import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { builder } from './builder.js';
import { parseIpAddress, parseIpSubnet } from '../domain/ip.js';
import { InvalidValueError } from '../domain/invalid-value.js';
import { parseUnixTime } from '../domain/time.js';
import { type Lenient, RejectedValue } from './lenient.js';
import { badUserInput } from './input.js';

// GraphQL prefixes these messages with the argument or variable they came from, so the caller
// learns both the field and the reason; `extensions` carries the reason for programs.
function parseOrReject<T>(typeName: string, parse: (value: unknown) => T) {
  return (value: unknown): T => {
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof InvalidValueError)) throw error;
      // No field here: graphql-js prefixes the message with the argument or variable.
      throw badUserInput(undefined, error.reason, { message: `invalid ${typeName}: ${error.reason}` });
    }
  };
}

function literalValue(node: ValueNode): unknown {
  if (node.kind === Kind.STRING || node.kind === Kind.INT || node.kind === Kind.FLOAT) {
    return node.kind === Kind.STRING ? node.value : Number(node.value);
  }
  return undefined;
}

function stringValue(value: unknown): string {
  if (typeof value !== 'string') throw new InvalidValueError('must be a string');
  return value;
}

function scalar<T>(name: string, description: string, parse: (value: unknown) => T) {
  const parseValue = parseOrReject(name, parse);
  return { description, parseValue, parseLiteral: (node: ValueNode) => parseValue(literalValue(node)) };
}

function lenientScalar<T>(name: string, strictName: string, parse: (value: unknown) => T) {
  const parseValue = (value: unknown): Lenient<T> => {
    try {
      return parse(value);
    } catch (error) {
      if (error instanceof InvalidValueError) return new RejectedValue(error.reason);
      throw error;
    }
  };
  return {
    description: `The same values as ${strictName}, in inputs that answer a value breaking its rule with a typed error naming the field (or, in whoHadMany, an error at the lookup's index) rather than refusing the whole request.`,
    parseValue,
    parseLiteral: (node: ValueNode) => parseValue(literalValue(node)),
    serialize: () => {
      throw new GraphQLError(`${name} is input only`);
    },
  };
}

const parseAddress = (value: unknown) => parseIpAddress(stringValue(value));
const parseSubnet = (value: unknown) => parseIpSubnet(stringValue(value));

builder.scalarType('IPAddress', {
  ...scalar(
    'IPAddress',
    'An IPv4 address as four decimal octets, or an IPv6 address in any RFC 4291 form. IPv4-mapped IPv6 addresses mean their IPv4 address.',
    parseAddress,
  ),
  serialize: (value) => value,
});

builder.scalarType('IPSubnet', {
  ...scalar(
    'IPSubnet',
    'An IP address or a CIDR subnet. Host bits may be set (192.168.1.25/16 means 192.168.0.0/16); the text is kept as sent.',
    parseSubnet,
  ),
  serialize: (value) => value,
});

builder.scalarType('IPAddressInput', lenientScalar('IPAddressInput', 'IPAddress', parseAddress));
builder.scalarType('IPSubnetInput', lenientScalar('IPSubnetInput', 'IPSubnet', parseSubnet));
builder.scalarType('UnixTimeInput', lenientScalar('UnixTimeInput', 'UnixTime', parseUnixTime));

builder.scalarType('UnixTime', {
  ...scalar(
    'UnixTime',
    'Unix time in whole seconds, 0 to 253402300799 (year 9999). Accepted as a number or a string of digits; returned as a number.',
    parseUnixTime,
  ),
  serialize: (value) => Number(value),
});

builder.scalarType('DateTime', {
  ...scalar('DateTime', 'An instant as an ISO 8601 string with a time zone, e.g. 2026-11-23T10:00:00Z.', (value) => {
    const text = stringValue(value);
    const instant = new Date(text);
    if (!/(Z|[+-]\d\d:?\d\d)$/.test(text) || Number.isNaN(instant.getTime())) {
      throw new InvalidValueError(`"${text}" is not an ISO 8601 date-time with a time zone`);
    }
    return instant;
  }),
  serialize: (value) => value.toISOString(),
});

builder.scalarType('JSON', {
  description: 'A JSON value: the before- and after-images of an audit event.',
  serialize: (value) => value,
  parseValue: () => {
    throw new GraphQLError('JSON is output only');
  },
});
