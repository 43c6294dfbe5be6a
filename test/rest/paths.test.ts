import { describe, expect, it } from 'vitest';
import { yoga } from '../setup/app.js';
import { ADMIN_TOKEN } from '../setup/credentials.js';

// Paths the REST layer cannot route or decode: answered in its own shape, never with a stack.

async function call(path: string, method = 'GET') {
  const response = await yoga.fetch(`http://ipdr.test${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(method === 'GET' ? {} : { body: JSON.stringify({ api_token: ADMIN_TOKEN, Name: 'x' }) }),
  });
  const text = await response.text();
  return { status: response.status, type: response.headers.get('content-type'), text };
}

describe('malformed REST paths', () => {
  it.each([
    ['/api/ipdrcustomers/%zz', 'GET'],
    ['/api/ipdrcustomers/%E0%A4%A', 'PUT'],
    ['/api/ipdrcustomers_mapping/%', 'DELETE'],
    ['/api/ipdrcustomers/%C0%AF', 'PATCH'],
  ])('%s (%s) is a 400 naming the path', async (path, method) => {
    const answer = await call(path, method);
    expect(answer.status).toBe(400);
    expect(answer.type).toMatch(/application\/json/);
    expect(JSON.parse(answer.text)).toEqual({
      status: 'Error',
      message: `Malformed percent-encoding in the path: ${path}`,
    });
  });

  it('an unknown path is a 404, echoing only the start of a long one', async () => {
    const path = `/api/${'a'.repeat(5000)}`;
    const answer = await call(path);
    expect(answer.status).toBe(404);
    const body = JSON.parse(answer.text) as { status: string; message: string };
    expect(body.status).toBe('Error');
    expect(body.message.length).toBeLessThan(200);
    expect(body.message).toMatch(/^No such endpoint: \/api\/a+…$/);
  });

  it('no answer carries a stack trace or a path of the server', async () => {
    for (const path of [
      '/api/ipdrcustomers/%zz',
      '/api/%zz',
      '/api/ipdrcustomers/%zz/x',
      '/api/ipdrcustomers_mapping/%ff',
    ]) {
      const answer = await call(path);
      expect(answer.status, path).toBeGreaterThanOrEqual(400);
      expect(answer.status, path).toBeLessThan(500);
      expect(answer.text, path).not.toMatch(/ at |\.ts:|\.js:|node_modules|\/work\//);
    }
  });
});
