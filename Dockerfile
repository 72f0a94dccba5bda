FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -e . && useradd --system registry && chown -R registry /app
USER registry
EXPOSE 8000
CMD ["registry", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
