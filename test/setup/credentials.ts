/** The admin token every test file's database starts with (see database.ts). */
export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';
