"""The schools and levels lessons are classified into, described in words (Spanish and
Portuguese) so the offline analyser can compare a lesson's text with each description."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LEVEL_TEXTS", "SCHOOLS"]

#: Each school with what its lessons talk about (Spanish and Portuguese).
SCHOOLS: Mapping[str, str] = {
    "programación": "programación código software Python JavaScript funciones variables "
    "algoritmos bucles clases objetos API base de datos SQL depurar programação código "
    "funções desenvolvimento web backend frontend",
    "datos": "análisis de datos estadística gráficos pandas Excel tablas dinámicas "
    "aprendizaje automático modelos predicción dashboards métricas análise de dados "
    "estatística planilhas machine learning visualización",
    "marketing": "marketing digital redes sociales anuncios campañas tráfico embudo de ventas "
    "SEO contenido Instagram conversión audiencia público-alvo anúncios tráfego pago "
    "copywriting email marketing lanzamiento",
    "diseño": "diseño gráfico tipografía color composición Figma Photoshop ilustración logo "
    "identidad visual interfaz UX UI prototipo design gráfico cores layout",
    "negocios": "negocios emprendimiento finanzas precios plan de negocio ventas clientes "
    "gestión liderazgo equipo flujo de caja empreendedorismo finanças gestão vendas "
    "productividad estrategia",
}
#: Each level as the lessons of that level sound.
LEVEL_TEXTS: Mapping[str, str] = {
    "básico": "introducción desde cero primeros pasos qué es conceptos básicos para "
    "principiantes no necesitas experiencia previa introdução do zero iniciantes",
    "intermedio": "ya conoces lo básico ahora profundizamos práctica proyecto aplicar "
    "combinar técnicas intermediário aprofundar exercicio",
    "avanzado": "avanzado optimización rendimiento arquitectura escalar casos complejos "
    "internals producción experto avançado otimização arquitetura",
}
