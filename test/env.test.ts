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
});
