"""The REST API (/api/v1/): serializers, views, authentication and throttling only. A serializer
translates; the same services as the pages decide and enqueue the same tasks."""
