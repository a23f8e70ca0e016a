// A whole checkout through stripe-node against the local CasaPay server, as a new user writes it.
// Run by tests/wire/test_stripe_node.py: node stripe_node_checkout.js <base URL> <secret key>.
// Prints one JSON line of what it saw; any failed expectation exits non-zero with the reason.
'use strict';

const assert = require('node:assert/strict');
const Stripe = require('stripe');

async function main() {
  const [base, key] = process.argv.slice(2);
  const url = new URL(base);
  const stripe = new Stripe(key, {
    host: url.hostname,
    port: Number(url.port),
    protocol: url.protocol.replace(':', ''),
    maxNetworkRetries: 0,
  });
  const shipping = {name: 'Ada Lovelace', address: {line1: '1 Main St', country: 'GB'}};

  const made = [];
  for (let index = 0; index < 4; index += 1) {
    made.push(await stripe.paymentIntents.create({
      amount: 1000 + index,
      currency: 'eur',
      customer: 'cus_node',
      metadata: {order: `N-${index}`},
      shipping,
      receipt_email: 'tenant@example.com',
    }));
  }
  const first = made[0];
  assert.equal(first.shipping.name, 'Ada Lovelace');
  assert.equal(first.review, null);
  assert.equal(first.capture_method, 'automatic_async');

  const paid = await stripe.paymentIntents.confirm(first.id, {
    payment_method: 'pm_card_visa',
    expand: ['latest_charge', 'payment_method'],
  });
  assert.equal(paid.status, 'succeeded');
  assert.equal(paid.latest_charge.object, 'charge');
  assert.equal(paid.latest_charge.payment_method_details.card.last4, '4242');
  assert.equal(paid.payment_method.card.brand, 'visa');

  const held = await stripe.paymentIntents.create({
    amount: 5000, currency: 'eur', capture_method: 'manual',
    payment_method: 'pm_card_mastercard', confirm: true,
  });
  assert.equal(held.status, 'requires_capture');
  const captured = await stripe.paymentIntents.capture(held.id, {
    amount_to_capture: 4000, metadata: {shipped: 'yes'}, expand: ['latest_charge'],
  });
  assert.equal(captured.amount_received, 4000);
  assert.equal(captured.latest_charge.amount_refunded, 1000);

  let declined = null;
  try {
    await stripe.paymentIntents.create({
      amount: 5000, currency: 'eur', payment_method: 'pm_card_visa_chargeDeclined', confirm: true,
    });
  } catch (error) {
    declined = error;
  }
  assert.ok(declined instanceof Stripe.errors.StripeCardError, String(declined));
  assert.equal(declined.decline_code, 'generic_decline');
  assert.equal(declined.payment_intent.last_payment_error.payment_method.card.last4, '0002');

  const retrieved = await stripe.paymentIntents.retrieve(paid.id, {expand: ['latest_charge']});
  assert.equal(retrieved.latest_charge.id, paid.latest_charge.id);

  const listed = [];
  for await (const intent of stripe.paymentIntents.list({limit: 2})) listed.push(intent.id);
  assert.equal(listed.length, made.length + 2);

  const found = [];
  const search = stripe.paymentIntents.search({query: 'customer:"cus_node" AND amount>1000', limit: 1});
  for await (const intent of search) found.push(intent.id);
  assert.deepEqual(found, made.slice(1).reverse().map((intent) => intent.id));

  const succeeded = await stripe.events.list({type: 'payment_intent.succeeded'});
  assert.deepEqual(succeeded.data.map((event) => event.data.object.id), [captured.id, paid.id]);
  const events = [];
  for await (const event of stripe.events.list({limit: 3})) events.push(event);
  const again = await stripe.events.retrieve(events[0].id);
  assert.equal(again.id, events[0].id);

  const method = await stripe.paymentMethods.retrieve('pm_card_mastercard');
  assert.equal(method.card.last4, '4444');

  let refused = null;
  try {
    await stripe.paymentIntents.retrieve(paid.id, {expand: ['amount']});
  } catch (error) {
    refused = error;
  }
  assert.ok(refused instanceof Stripe.errors.StripeInvalidRequestError, String(refused));

  let unauthorised = null;
  try {
    await new Stripe('sk_test_notTheRightKey99', {
      host: url.hostname, port: Number(url.port), protocol: 'http', maxNetworkRetries: 0,
    }).paymentIntents.list();
  } catch (error) {
    unauthorised = error;
  }
  assert.ok(unauthorised instanceof Stripe.errors.StripeAuthenticationError, String(unauthorised));

  console.log(JSON.stringify({
    api_version: Stripe.API_VERSION,
    intents: listed.length,
    searched: found.length,
    events: events.length,
  }));
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
