// Runs before each test file: builds its database and default app (./app.ts), and closes them
// after the file's tests.
import { afterAll } from 'vitest';
import { closeTestDatabase } from './app.js';

afterAll(closeTestDatabase);
