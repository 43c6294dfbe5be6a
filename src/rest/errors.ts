/** A REST failure with Trisul's body: `{"status": "Error", "message": ...}`. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Trisul spells it "ERROR" in exactly one place: the invalid-token answer. */
    readonly statusWord: 'Error' | 'ERROR' = 'Error',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): Response {
    return new Response(JSON.stringify({ status: this.statusWord, message: this.message }), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}

/** The two documented APIs answer the same failures with different status codes. */
export interface ApiStatuses {
  invalidToken: number;
  invalidContext: number;
}

export const customerApi: ApiStatuses = { invalidToken: 200, invalidContext: 200 };
export const mappingApi: ApiStatuses = { invalidToken: 422, invalidContext: 422 };

/** Trisul's names for our GraphQL input fields, for error messages. */
const restFieldNames: Record<string, string> = {
  userId: 'UserID',
  toUserId: 'UserID',
  name: 'Name',
  address: 'Address',
  email: 'Email',
  phoneNumber: 'PhoneNumber',
  altPhoneNumber: 'AltPhoneNumber',
  terminalId: 'terminalid',
  customerId: 'ipdr_customer_id',
  // A REST body's ipsubnet also says which mapping it means (endpoints.ts, mappingChoice).
  'choose.ipsubnet': 'ipsubnet',
  'choose.ipsubnetHint': 'ipsubnet',
};

export const restField = (graphqlField: string) => restFieldNames[graphqlField] ?? graphqlField;
