// Revealing a customer's personal data: the server records who saw it and why in the audit
// trail, and answers the ID number and every contact value in full.
import { api, unwrap } from './client';
import type { components } from './schema';

export type Revealed = components['schemas']['RevealedCustomerOut'];

export function revealCustomer(customerRef: string, reason: string): Promise<Revealed> {
  return unwrap(
    api.POST('/api/v1/customers/{customer_ref}/reveal', {
      params: { path: { customer_ref: customerRef } },
      body: { reason },
    }),
  );
}
