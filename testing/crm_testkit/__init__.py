"""The suite's test kit: the pytest plugin (:mod:`crm_testkit.plugin`), throwaway
vhosts and databases (:mod:`crm_testkit.throwaway`) and helpers for a service's
tests (:mod:`crm_testkit.helpers`). Nothing is imported here: the plugin must
patch eventlet before nameko or the standard library's sockets are imported."""
