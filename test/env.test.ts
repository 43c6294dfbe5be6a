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
});
