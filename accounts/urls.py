from __future__ import annotations

from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("welcome/", views.welcome, name="welcome"),
    path("courses/", views.course_list, name="course_list"),
    path("me/", views.my_courses, name="my_courses"),
    path("roles/accept/<str:token>/", views.role_accept, name="role_accept"),
]
