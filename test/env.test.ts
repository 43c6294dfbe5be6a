import { describe, expect, it } from 'vitest';
import { InvalidEnvironmentError, readEnv } from '../src/env.js';

describe('environment', () => {
  it('has defaults for an embedded database on port 4000', () => {
    expect(readEnv({})).toMatchObject({
      NODE_ENV: 'development',
      HOST: '0.0.0.0',
      PORT: 4000,
      DATABASE_POOL_SIZE: 10,
      DATA_DIR: './data',
    });
  });

  it('treats empty variables as unset', () => {
    const env = readEnv({ DATABASE_URL: '', PORT: '' });
    expect(env.PORT).toBe(4000);
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it('names every bad variable and the reason', () => {
    const read = () => readEnv({ PORT: 'eighty', DATABASE_URL: 'mysql://x', NODE_ENV: 'staging' });
    expect(read).toThrow(InvalidEnvironmentError);
    expect(read).toThrow(/PORT: must be a port number/);
    expect(read).toThrow(/DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ connection string/);
    expect(read).toThrow(/NODE_ENV: /);
  });

  it('checks the first start’s contexts, admin user and token by the admin API’s rules, without echoing the token', () => {
    expect(readEnv({ IPDR_CONTEXTS: 'default, isp-7' }).IPDR_CONTEXTS).toEqual(['default', 'isp-7']);
    const read = () =>
      readEnv({ IPDR_CONTEXTS: 'default,bad name', IPDR_ADMIN_USER: 'ad min', IPDR_ADMIN_TOKEN: 'secret-but-short' });
    expect(read).toThrow(/IPDR_CONTEXTS\.1: must be 1-64 letters, digits, _ or -/);
    expect(read).toThrow(/IPDR_ADMIN_USER: must be 1-64 letters, digits, \., _, @ or -/);
    expect(read).toThrow(/IPDR_ADMIN_TOKEN: must be at least 20 characters/);
    expect(read).not.toThrow(/secret-but-short/);
  });

  it('reads RADIUS accounting settings, naming the entry and field that is wrong and never a secret', () => {
    const clients = '[{"address":"10.0.0.0/24","secret":"s3cret-value","context":"default"}]';
    const env = readEnv({ RADIUS_ACCOUNTING_PORT: '1813', RADIUS_CLIENTS: clients });
    expect(env.RADIUS_ACCOUNTING_PORT).toBe(1813);
    expect(env.RADIUS_CLIENTS?.[0]).toMatchObject({ secret: 's3cret-value', context: 'default' });
    expect(env.RADIUS_CLIENTS?.[0]?.address.network).toBe('10.0.0.0/24');
    expect(env.RADIUS_SESSION_TIMEOUT).toBe(86_400);
    expect(readEnv({}).RADIUS_ACCOUNTING_PORT).toBeUndefined();

    expect(() => readEnv({ RADIUS_ACCOUNTING_PORT: '1813' })).toThrow(/RADIUS_CLIENTS: must list the NAS clients/);
    const badJson = () => readEnv({ RADIUS_ACCOUNTING_PORT: '1813', RADIUS_CLIENTS: '[{"secret":"s3cret-value",' });
    expect(badJson).toThrow(/RADIUS_CLIENTS: must be JSON/);
    expect(badJson).not.toThrow(/s3cret-value/);
    const badAddress = () =>
      readEnv({
        RADIUS_ACCOUNTING_PORT: '1813',
        RADIUS_CLIENTS: '[{"address":"10.0.0.300","secret":"s3cret-value","context":"default"}]',
      });
    expect(badAddress).toThrow(/RADIUS_CLIENTS/);
    expect(badAddress).toThrow(/address/);
    expect(badAddress).not.toThrow(/s3cret-value/);
    expect(() =>
      readEnv({
        RADIUS_ACCOUNTING_PORT: '1813',
        RADIUS_CLIENTS: '[{"address":"10.0.0.1","secret":"","context":"default"}]',
      }),
    ).toThrow(/secret: must not be empty/);
  });

  it('reads the retention schedule: off by default, whole seconds from a minute to a year', () => {
    expect(readEnv({}).RETENTION_APPLY_INTERVAL).toBeUndefined();
    expect(readEnv({ RETENTION_APPLY_INTERVAL: '86400' }).RETENTION_APPLY_INTERVAL).toBe(86_400);
    for (const value of ['59', '1.5', 'daily', '31536001']) {
      expect(() => readEnv({ RETENTION_APPLY_INTERVAL: value }), value).toThrow(/RETENTION_APPLY_INTERVAL/);
    }
  });

  it('reads read replicas: a list of PostgreSQL URLs of a PostgreSQL primary, never echoed', () => {
    const primary = 'postgres://app@db-primary/ipdr';
    const env = readEnv({
      DATABASE_URL: primary,
      DATABASE_REPLICA_URLS: ' postgres://app@db-r1/ipdr , postgresql://app@db-r2:5433/ipdr,',
      REPLICA_MAX_LAG_SECONDS: '5',
    });
    expect(env.DATABASE_REPLICA_URLS).toEqual(['postgres://app@db-r1/ipdr', 'postgresql://app@db-r2:5433/ipdr']);
    expect(env.REPLICA_MAX_LAG_SECONDS).toBe(5);
    expect(readEnv({}).REPLICA_MAX_LAG_SECONDS).toBe(10);
    expect(() => readEnv({ DATABASE_REPLICA_URLS: 'postgres://app@db-r1/ipdr' })).toThrow(
      /DATABASE_REPLICA_URLS: needs DATABASE_URL/,
    );
    expect(() =>
      readEnv({ DATABASE_URL: primary, DATABASE_REPLICA_URLS: 'postgres://app@db-r1/ipdr,mysql://u:secret@x/y' }),
    ).toThrow(/DATABASE_REPLICA_URLS\.1: must be postgres:\/\/ or postgresql:\/\//);
    expect(() => readEnv({ DATABASE_URL: primary, DATABASE_REPLICA_URLS: 'mysql://u:secret@x/y' })).not.toThrow(
      /secret/,
    );
    expect(() => readEnv({ DATABASE_URL: primary, REPLICA_MAX_LAG_SECONDS: '0' })).toThrow(/REPLICA_MAX_LAG_SECONDS/);
  });

  it('reads NAT syslog settings: sources, the inside context defaulting to the context, the zone', () => {
    const sources = JSON.stringify([
      { address: '10.0.0.0/24', context: 'carrier' },
      { address: '192.0.2.7', context: 'carrier', insideContext: 'subscribers' },
    ]);
    const env = readEnv({ NAT_SYSLOG_PORT: '514', NAT_SYSLOG_SOURCES: sources, NAT_SYSLOG_TIMEZONE: 'Europe/Paris' });
    expect(env.NAT_SYSLOG_PORT).toBe(514);
    expect(env.NAT_SYSLOG_TIMEZONE).toBe('Europe/Paris');
    expect(
      env.NAT_SYSLOG_SOURCES?.map((source) => [source.address.network, source.context, source.insideContext]),
    ).toEqual([
      ['10.0.0.0/24', 'carrier', 'carrier'],
      ['192.0.2.7/32', 'carrier', 'subscribers'],
    ]);
    expect(readEnv({})).toMatchObject({ NAT_SYSLOG_TIMEZONE: 'UTC', NAT_SYSLOG_BATCH_SIZE: 1000 });
    expect(readEnv({}).NAT_SYSLOG_PORT).toBeUndefined();
    expect(readEnv({ NAT_SYSLOG_PORT: '0', NAT_SYSLOG_SOURCES: sources }).NAT_SYSLOG_PORT).toBe(0);

    expect(() => readEnv({ NAT_SYSLOG_PORT: '514' })).toThrow(/NAT_SYSLOG_SOURCES: must list the sending devices/);
    expect(() => readEnv({ NAT_SYSLOG_PORT: '65536', NAT_SYSLOG_SOURCES: sources })).toThrow(/NAT_SYSLOG_PORT/);
    expect(() => readEnv({ NAT_SYSLOG_TIMEZONE: 'Mars/Olympus' })).toThrow(
      /NAT_SYSLOG_TIMEZONE: .*not an IANA time zone/,
    );
    expect(() => readEnv({ NAT_SYSLOG_PORT: '514', NAT_SYSLOG_SOURCES: '[{"address":' })).toThrow(
      /NAT_SYSLOG_SOURCES: must be JSON/,
    );
    expect(() =>
      readEnv({ NAT_SYSLOG_PORT: '514', NAT_SYSLOG_SOURCES: '[{"address":"10.0.0.300","context":"carrier"}]' }),
    ).toThrow(/NAT_SYSLOG_SOURCES\.0\.address/);
    expect(() =>
      readEnv({ NAT_SYSLOG_PORT: '514', NAT_SYSLOG_SOURCES: '[{"address":"10.0.0.1","context":"no spaces allowed"}]' }),
    ).toThrow(/NAT_SYSLOG_SOURCES\.0\.context/);
    expect(() =>
      readEnv({ NAT_SYSLOG_PORT: '514', NAT_SYSLOG_SOURCES: '[{"address":"10.0.0.1","context":"a","secret":"x"}]' }),
    ).toThrow(/NAT_SYSLOG_SOURCES/);
    const twice = JSON.stringify([
      { address: '10.0.0.0/24', context: 'a' },
      { address: '10.0.0.9/24', context: 'b' },
    ]);
    expect(() => readEnv({ NAT_SYSLOG_PORT: '514', NAT_SYSLOG_SOURCES: twice })).toThrow(
      /NAT_SYSLOG_SOURCES\.1\.address: 10\.0\.0\.0\/24 is listed twice/,
    );
    expect(() => readEnv({ NAT_SYSLOG_PORT: '514', NAT_SYSLOG_SOURCES: '[]' })).toThrow(/at least one source/);
  });
});
