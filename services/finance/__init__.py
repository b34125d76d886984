"""The CRM suite's finance service: invoices, payments, credit notes, receivables, dunning."""
