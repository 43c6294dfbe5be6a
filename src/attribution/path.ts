/** Where report rows are posted to be attributed (see attribution/http.ts). */
export const ATTRIBUTE_PATH = '/attribute';
